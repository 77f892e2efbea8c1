from services.console.app import NAME, build
from shared.service import serve

serve(NAME, build)
