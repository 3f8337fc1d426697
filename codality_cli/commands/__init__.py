"""One module per noun; each verb parses, makes one client call and renders."""
