"""Services behind the client portal: sign-in, home, tasks, documents, settings and its mails."""
