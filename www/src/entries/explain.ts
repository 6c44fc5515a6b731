// The explain page's bundle.
import { boot } from '../main';
import * as page from '../explain';

boot(page);
