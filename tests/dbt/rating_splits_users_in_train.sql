-- Fails on each user with validation or test ratings but no train rating.
select distinct held_out.user_id
from {{ ref('rating_splits') }} as held_out
left anti join {{ ref('rating_splits') }} as train
    on held_out.user_id = train.user_id and train.split = 'train'
where held_out.split in ('validation', 'test')
