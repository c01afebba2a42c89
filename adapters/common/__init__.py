"""What the platform packages share: the Open API client with shared tokens, one retry and one
error mapping (api.py), its lean requests session (session.py), the callback helpers
(inbound.py), the rule for refused card images (images.py) and the composed adapter (adapter.py).
"""
