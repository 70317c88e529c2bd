"""Regimens, adaptive policies, endpoints and ranking over posterior draws. Empty until the
scenarios issue lands; nothing here is public yet."""
