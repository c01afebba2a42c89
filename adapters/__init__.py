"""One module per platform: parse callbacks into Events, send and update neutral messages."""
