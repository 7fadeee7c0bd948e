"""The read-only partner portal: static pages served at `/portal/` that call only the
public JSON API (`/v1/...`), with plotly's offline bundle from the installed package."""
