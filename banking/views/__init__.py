"""Web banking views, one module per flow."""
