"""Invoice documents: the invoice PDF and one sub-account's statement (PDF or CSV), each
rendered from the invoice's public JSON representation, so whatever it carries shows."""
