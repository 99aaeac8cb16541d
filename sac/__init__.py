"""Soft Actor-Critic trained through the reparameterisation trick."""
