"""Where rendered objects go: stdout, a GitOps directory, or (later) a cluster."""
