"""The admin's front page: the live dashboard, its JSON and its buttons."""
