"""GitHub's REST API and webhook signatures (gidgethub, loaded only once GitHub is configured)."""
