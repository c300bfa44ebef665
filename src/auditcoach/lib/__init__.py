"""Small plain-Python helpers with no Django import (safezip: opening untrusted archives)."""
