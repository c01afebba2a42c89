"""Neutral outgoing messages (Text, Card) and one renderer per platform."""

from cards.model import Button, Card, Field, Message, Text, message_from_dict

__all__ = ["Button", "Card", "Field", "Message", "Text", "message_from_dict"]
