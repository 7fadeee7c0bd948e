"""Webhooks: endpoint URLs' safety, signing, and the delivery runner."""
