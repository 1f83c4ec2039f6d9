"""The contract, `credly.yaml`, shipped as package data of `credly_contract.openapi` (see pyproject.toml)."""
