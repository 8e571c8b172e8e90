"""Simulated users and the evaluation harness: the MCR protocol, persona memory tests, reports, Ray."""
