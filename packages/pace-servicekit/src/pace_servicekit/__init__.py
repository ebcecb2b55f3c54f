"""Shared service plumbing for Pace services."""
