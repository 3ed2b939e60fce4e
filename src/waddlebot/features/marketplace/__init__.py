"""The marketplace: the catalogue of modules (WaddleBot's own, the operator's, and HTTP modules
registered by their manifest URL) and what each community installed, enabled and configured."""
