"""Renderers of the CLI artefacts, driven by scripts/gen_cli_artifacts.py."""
