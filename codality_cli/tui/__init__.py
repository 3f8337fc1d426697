"""The full-screen board (Textual). Imported only when ``codality tui`` runs."""
