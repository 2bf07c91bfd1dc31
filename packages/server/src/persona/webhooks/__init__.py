"""Webhooks: endpoints that receive run events, signed per the Standard Webhooks spec."""
