"""/api/v1/documents: document metadata (list, read, change, delete — as the Documents screen), their
versions, and streaming upload (a new document, a new version) and download of versions — the body
streamed into the storage module by the documents service (same type and size rules as the screens:
413 past the firm's limit, type by content, nothing stored when refused), the file streamed back by
the screens' send path (never read whole into memory)."""
from types import SimpleNamespace

from flask import request
from flask_appbuilder.api import expose
from marshmallow import Schema, ValidationError, fields, missing, validate
from sqlalchemy import select

from app.api import filters as api_filters, openapi, paging
from app.api.filters import Contains, Filter
from app.api.problems import ApiError, invalid
from app.api.resource import ApiResource, parse_pk
from app.api.schemas import Id, StrictId, Timestamp, text
from app.extensions import db
from app.models import Document, DocumentVersion, Entity, Folder
from app.models.documents import Direction, DocumentStatus, Visibility
from app.security import access
from app.security import roles as R
from app.services import documents as service
from app.services.filetypes import UploadRefused
from app.web.downloads import send_version

# Uploading is the document browser's manage permission; downloading the file server's download one.
SCREENS = {"upload": ("can_manage", "DocumentBrowserView"), "download": ("can_download", "DocumentFilesView")}
UPLOAD_ARGS = {
    "entity_id": Id(required=True),
    "name": text(200, required=True),
    "folder_id": Id(),
    "visibility": fields.Enum(Visibility, by_value=True, load_default=Visibility.staff_only),
    "direction": fields.Enum(Direction, by_value=True, load_default=Direction.from_firm),
}
VERSION_ARGS = {"name": text(200)}
BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}


class DocumentSchema(Schema):
    """A document's metadata (its current version's type, size and hash)."""

    id = fields.Integer(dump_only=True)
    entity_id = fields.Integer(dump_only=True)
    folder_id = fields.Integer(dump_only=True, allow_none=True)
    name = fields.String(dump_only=True)
    file_type = fields.String(dump_only=True)
    mime = fields.String(dump_only=True)
    size = fields.Integer(dump_only=True)
    sha256 = fields.String(dump_only=True)
    direction = fields.Enum(Direction, by_value=True, dump_only=True)
    status = fields.Enum(DocumentStatus, by_value=True, dump_only=True)
    visibility = fields.Enum(Visibility, by_value=True, dump_only=True)
    note = fields.String(dump_only=True, allow_none=True)
    version_count = fields.Integer(dump_only=True)
    created_on = Timestamp(dump_only=True)
    updated_on = Timestamp(dump_only=True)


class DocumentUpdateSchema(Schema):
    """The fields of a document the Documents screen edits (any subset)."""

    name = text(200, required=True)
    folder_id = StrictId(allow_none=True, metadata={"description": "A folder of the same entity; null: the top."})
    status = fields.Enum(DocumentStatus, by_value=True)
    visibility = fields.Enum(Visibility, by_value=True,
                             metadata={"description": "portal: the client sees it; staff_only: never."})
    note = text(4000, allow_none=True)


class VersionSchema(Schema):
    """One stored version of a document."""

    id = fields.Integer(dump_only=True)
    number = fields.Integer(dump_only=True)
    original_name = fields.String(dump_only=True)
    file_type = fields.String(dump_only=True)
    mime = fields.String(dump_only=True)
    size = fields.Integer(dump_only=True)
    sha256 = fields.String(dump_only=True)
    uploaded_by_id = fields.Integer(dump_only=True, allow_none=True)
    uploaded_on = Timestamp(dump_only=True)


def _query_params(declared):
    return [{"name": name, "in": "query", "required": bool(field.required), "schema": openapi.field_schema(field)}
            for name, field in declared.items()]


def _ref(name):
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


UPLOAD_RESPONSES = {"413": {"description": "Larger than the firm's upload limit; nothing was stored.",
                            "content": {openapi.PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}},
                    **openapi.problems(400, 404, 422)}
FILE_RESPONSES = {"200": {"description": "The file, streamed.", "content": {"*/*": {"schema": {
                      "type": "string", "format": "binary"}}}},
                  "303": {"description": "A short-lived link to the file (S3 presigned downloads)."},
                  **openapi.problems(404)}


class DocumentApi(ApiResource):
    """Documents: list, read, change, delete; upload new ones and versions; list and download versions."""

    resource_name = "documents"
    model = Document
    # Documents are created by uploading a file (POST / with the bytes), never from JSON; the update schema
    # stands in for create_schema only so the generated document describes PATCH.
    schema, create_schema, update_schema = DocumentSchema, DocumentUpdateSchema, DocumentUpdateSchema
    operations = ("list", "get", "update", "delete")
    screen = "DocumentView"
    rights = {"get": R.VIEW, "update": R.WORK, "delete": R.WORK, "upload": R.WORK}
    filters = {
        "entity_id": Filter(Document.entity_id, Id()),
        "folder_id": Filter(Document.folder_id, Id()),
        "name": Contains(Document.name),
        "file_type": Filter(Document.file_type, fields.String(validate=validate.Length(min=1, max=10))),
        "status": Filter(Document.status, fields.Enum(DocumentStatus, by_value=True)),
        "visibility": Filter(Document.visibility, fields.Enum(Visibility, by_value=True)),
        "direction": Filter(Document.direction, fields.Enum(Direction, by_value=True)),
    }

    def require_screen(self, op):
        """Uploads and downloads follow the document browser's and the file server's permissions."""
        if op in SCREENS:
            permission, view = SCREENS[op]
            if not access.has_screen_permission(self.user, permission, view):
                raise ApiError(403, "Your roles do not allow this.")
            return
        super().require_screen(op)

    def update(self, row, data):
        """Change name, folder, status, visibility or note through the documents service."""
        changes = {k: v for k, v in data.items() if k != "folder_id"}
        if "folder_id" in data:
            changes["folder"] = self._folder(row.entity_id, data["folder_id"])
        try:
            return service.update(row, self.user, **changes)
        except service.DocumentError as exc:
            raise invalid({"folder_id": [str(exc)]}) from exc

    def delete(self, row):
        """Delete the document, its versions and the blobs nothing else uses."""
        service.delete_document(row, self.user)

    def _folder(self, entity_id, folder_id):
        if folder_id is None:
            return None
        folder = db.session.scalar(access.visible(self.user, Folder, R.WORK).where(
            Folder.id == folder_id, Folder.entity_id == entity_id))
        if folder is None:
            raise invalid({"folder_id": ["No such folder of this document's entity."]})
        return folder

    # Upload ----------------------------------------------------------------------------------------------

    def _args(self, declared):
        """The query parameters of an upload, parsed (400 when unknown or invalid)."""
        unknown = sorted(set(request.args) - set(declared))
        errors = {name: ["Unknown parameter."] for name in unknown[:10]}
        values = {}
        for name, field in declared.items():
            raw = request.args.getlist(name)
            try:
                if len(raw) > 1:
                    raise ValidationError("Give this parameter once.")
                if raw:
                    values[name] = field.deserialize(raw[0])
                elif field.required:
                    raise ValidationError("Missing parameter.")
                elif field.load_default is not missing:
                    values[name] = field.load_default
            except ValidationError as exc:
                errors[name] = exc.messages if isinstance(exc.messages, list) else [str(exc.messages)]
        if errors:
            raise ApiError(400, "Some query parameters are not valid.", errors=errors)
        return values

    def _store(self, entity, name, **kwargs):
        """The request body, streamed through the documents service (refusals: 422; too large: 413)."""
        try:
            return service.upload(entity, SimpleNamespace(filename=name, stream=request.stream), self.user, **kwargs)
        except (UploadRefused, service.DocumentError) as exc:
            raise invalid({"file": [str(exc)]}) from exc

    @expose("/", methods=["POST"])
    @openapi.operation({"post": {
        "summary": "Upload a new document (the request body is the file)",
        "description": "A file with the name, folder and visibility of an existing one becomes its next "
                       "version, as on the document browser.",
        "parameters": _query_params(UPLOAD_ARGS),
        "requestBody": {"required": True, "content": BINARY},
        "responses": {"201": {"description": "The document.", "headers": openapi.ETAG_HEADER,
                              "content": _ref("Document")}, **UPLOAD_RESPONSES}}})
    def api_upload(self):
        """Stream the body into a new document (or the next version of a same-named one) of an entity."""
        self.require_screen("upload")
        args = self._args(UPLOAD_ARGS)
        entity = db.session.scalar(access.visible(self.user, Entity, R.WORK).where(Entity.id == args["entity_id"]))
        if entity is None:
            raise ApiError(404, "No such entity among those you work on.")
        folder = self._folder(entity.id, args.get("folder_id"))
        doc = self._store(entity, args["name"], folder=folder, direction=args["direction"],
                          visibility=args["visibility"])
        return self.one(doc, status=201)

    @expose("/<pk>/versions", methods=["POST"])
    @openapi.operation({"post": {
        "summary": "Upload a new version of a document (the request body is the file)",
        "parameters": [openapi.PK_PARAMETER] + _query_params(VERSION_ARGS),
        "requestBody": {"required": True, "content": BINARY},
        "responses": {"201": {"description": "The document.", "headers": openapi.ETAG_HEADER,
                              "content": _ref("Document")}, **UPLOAD_RESPONSES}}})
    def api_upload_version(self, pk):
        """Stream the body into the next version of the document (same type of file as the document)."""
        doc = self.load(pk, "upload")
        args = self._args(VERSION_ARGS)
        doc = self._store(doc.entity, args.get("name") or doc.name, folder=doc.folder, direction=doc.direction,
                          visibility=doc.visibility, document=doc)
        return self.one(doc, status=201)

    # Versions and download ---------------------------------------------------------------------------------

    @expose("/<pk>/versions", methods=["GET"])
    @openapi.operation({"get": {
        "summary": "A document's versions, oldest first, in keyset pages",
        "parameters": [openapi.PK_PARAMETER] + api_filters.parameters({}),
        "responses": {"200": {"description": "One page of versions.", "content": _ref("VersionPage")},
                      **openapi.problems(400, 404)}}})
    def api_versions(self, pk):
        """The versions of one document, ordered by id."""
        doc = self.load(pk, "get")
        limit, after = paging.parse_limit(request.args.get("limit")), paging.decode_cursor(request.args.get("cursor"))
        query = api_filters.apply(select(DocumentVersion), {}, request.args)
        rows = db.session.scalars(query.where(DocumentVersion.document_id == doc.id, DocumentVersion.id > after)
                                  .order_by(DocumentVersion.id).limit(limit + 1)).all()
        page, more = rows[:limit], len(rows) > limit
        return self.response(200, items=VersionSchema(many=True).dump(page),
                             next_cursor=paging.encode_cursor(page[-1].id) if more else None)

    @expose("/<pk>/content", methods=["GET"])
    @openapi.operation({"get": {"summary": "Download the current version (streamed)",
                                "parameters": [openapi.PK_PARAMETER], "responses": FILE_RESPONSES}})
    def api_download(self, pk):
        """The current version's bytes, streamed as the file screens send them (audited)."""
        return self._send(self.load(pk, "download"), None)

    @expose("/<pk>/versions/<number>/content", methods=["GET"])
    @openapi.operation({"get": {"summary": "Download one version (streamed)",
                                "parameters": [openapi.PK_PARAMETER, dict(openapi.PK_PARAMETER, name="number")],
                                "responses": FILE_RESPONSES}})
    def api_download_version(self, pk, number):
        """Version `number` of the document, streamed."""
        return self._send(self.load(pk, "download"), parse_pk(number))

    def _send(self, doc, number):
        versions = {v.number: v for v in doc.versions}
        version = versions.get(number) if number is not None else service.current_version(doc)
        if version is None:
            raise ApiError(404, "No such version.")
        service.record_access(doc, version, False, self.user)
        name = doc.name if version.number == doc.version_count else version.original_name
        return send_version(version, name, inline=False)

    def add_api_spec(self, api_spec):
        """The standard paths, and the version schemas the own operations refer to."""
        item = openapi.register(api_spec, VersionSchema)
        if "VersionPage" not in api_spec.components.schemas:
            api_spec.components.schema("VersionPage", {"type": "object", "required": ["items", "next_cursor"],
                                                       "properties": {"items": {"type": "array", "items": item},
                                                                      "next_cursor": {"type": "string",
                                                                                      "nullable": True}}})
        super().add_api_spec(api_spec)
