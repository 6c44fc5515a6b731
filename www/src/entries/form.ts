// The form page's bundle.
import { boot } from '../main';
import * as page from '../form';

boot(page);
