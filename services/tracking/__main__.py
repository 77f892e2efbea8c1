from services.tracking.app import NAME, build
from shared.service import serve

serve(NAME, build)
