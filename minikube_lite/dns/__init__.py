"""Cluster DNS: the zone computed from Services and Endpoints, and the server answering it."""
