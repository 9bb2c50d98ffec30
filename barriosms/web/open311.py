"""Open311 GeoReport v2 (in progress: being written)."""

from flask import Blueprint, jsonify

blueprint = Blueprint("open311", __name__)


def error_response(code: int, message: str):
    response = jsonify([{"code": code, "description": message}])
    response.status_code = code
    return response
