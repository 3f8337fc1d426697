"""The one events bus that feeds SSE."""
