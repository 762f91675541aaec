"""Page-number pagination for every API list: ``?page=2&page_size=100`` (max 200)."""

from rest_framework.pagination import PageNumberPagination


class StudioPagination(PageNumberPagination):
    """``{count, next, previous, results}``; 50 per page by default."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
