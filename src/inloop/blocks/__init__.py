"""Blocks: small named documents kept by the server."""
