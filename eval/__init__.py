"""heluo: eval."""
