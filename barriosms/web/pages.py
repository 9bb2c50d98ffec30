"""The website's pages (in progress: being written)."""

from flask import Blueprint

blueprint = Blueprint("pages", __name__)
