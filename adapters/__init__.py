"""One package per platform (wecom, dingtalk, feishu, local): inbound.py turns callbacks into
Events, client.py sends and updates neutral messages, render.py builds the platform's JSON;
common/ holds the shared token/retry client and helpers."""
