"""The WSGI application for a server of your own (gunicorn imagebot_site.wsgi).

It refuses to start while a system check finds an error, a bad setting above all: each
problem on its own line, and gunicorn stops rather than booting workers that would fail.
(On Lambda, Zappa builds its own WSGI application; bot.apps checks the settings there.)
"""

import os

from django.core.wsgi import get_wsgi_application

from bot.checks import refuse_to_start_on_errors

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagebot_site.settings")
application = get_wsgi_application()
refuse_to_start_on_errors()
