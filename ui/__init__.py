"""heluo: ui."""
