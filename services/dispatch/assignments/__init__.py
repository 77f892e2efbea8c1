"""Who owns each appeal (派单): the first assignment, returns (退单), reassignments and assisting
officers (协办).

`routing` (the ordered pure rules and their explanation), `model` (an assignment and a return
as the decisions see them), `service` (the ownership decisions, over a repository interface),
`store` (that repository in Postgres, and the reads the API makes), `api` (HTTP), `handlers`
(the consumers of `appeals.immediate` and `appeals.lifecycle`)."""
