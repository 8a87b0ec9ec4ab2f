"""Extension objects shared by the whole app; bound to an app in create_app()."""
from flask_appbuilder import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

# FAB's Model metadata is shared so create_all, migrations and FKs to ab_user see every table.
db = SQLA(metadata=Model.metadata)
migrate = Migrate()
csrf = CSRFProtect()
