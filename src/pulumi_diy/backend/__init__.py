"""Where bytes live: backend URLs, the storage interface, layout, cache and the opened Backend."""
