"""heluo: rag."""
