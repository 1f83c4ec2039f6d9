"""Client certification (`credly-contract certify-client`): the suite plays Credly and judges a partner's
integration against the CLIENT-* catalogue (suite/credly_contract/client_requirements.yaml)."""
