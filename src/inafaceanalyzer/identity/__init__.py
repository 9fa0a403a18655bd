"""People: face tracks linked into persons by their face embeddings, within one video.

- :class:`FaceEmbedder` / :class:`HseEmbedder`: unit identity embeddings of faces.
- :class:`PersonLinker`: links the tracks of a video into people as they end
  (``person_id``), and gives the people table (``<name>.people.csv``).
- :func:`link_videos`: the people of several videos linked into global ids,
  from their saved embeddings (``ina_face_people``).
- :func:`apply_person_overrides`: a user's ``person_id,gender,age`` corrections
  applied to the frame, track and people tables.
"""

from .across import GLOBAL_COLUMNS, link_videos
from .embedders import FaceEmbedder, HseEmbedder
from .overrides import OVERRIDE_COLUMNS, apply_person_overrides, read_person_overrides
from .people import LINK_THRESHOLD, PEOPLE_COLUMNS, PersonLinker, people_path, write_people

__all__ = [
    "GLOBAL_COLUMNS",
    "LINK_THRESHOLD",
    "OVERRIDE_COLUMNS",
    "PEOPLE_COLUMNS",
    "FaceEmbedder",
    "HseEmbedder",
    "PersonLinker",
    "apply_person_overrides",
    "link_videos",
    "people_path",
    "read_person_overrides",
    "write_people",
]
