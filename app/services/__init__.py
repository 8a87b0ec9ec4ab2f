"""Business rules, transactions and side effects; views delegate here."""
