"""The neutral outgoing messages (Text, Card); each adapter package renders them (render.py)."""

from cards.model import Button, Card, Field, Message, Text, message_from_dict

__all__ = ["Button", "Card", "Field", "Message", "Text", "message_from_dict"]
