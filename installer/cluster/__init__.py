"""Talking to a cluster: the client interface, phased apply, inventory, prune, undeploy."""
