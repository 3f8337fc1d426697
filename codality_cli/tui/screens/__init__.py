"""Screens coordinate widgets and run the API calls in workers; they never call each other."""
