"""/api/prompts routes."""

from rest_framework.routers import SimpleRouter

from .api import PromptViewSet

router = SimpleRouter(trailing_slash=False)
router.register("prompts", PromptViewSet, basename="api-prompt")
urlpatterns = router.urls
