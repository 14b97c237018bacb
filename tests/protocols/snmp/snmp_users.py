"""The SNMPv3 user the test snmpsim serves (authPriv, SHA and AES)."""

V3_USER = "fleet-monitor"
V3_AUTH_KEY = "auth-passphrase-1"
V3_PRIV_KEY = "priv-passphrase-1"
