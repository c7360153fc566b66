"""`python -m sandbox --port 8025 [...]`: the Resend sandbox as its own process, without Django
(the options are those of `manage.py resend_sandbox`)."""

from sandbox.cli import main

if __name__ == "__main__":
    main()
