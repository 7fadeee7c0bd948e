"""Operator tools run from a checkout: local PostgreSQL clusters, the cluster demo."""
