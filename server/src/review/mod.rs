//! Review: the county's queue of submitted inspections, claims, and final decisions.
