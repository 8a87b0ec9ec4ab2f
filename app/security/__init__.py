"""Access decisions (access.py), roles (roles.py) and the FAB security manager (manager.py)."""
