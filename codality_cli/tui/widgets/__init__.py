"""Small reusable widgets: they take attributes, render, and post messages up."""
